"""Jobs: requested -> claimed -> finished, recorded as events on the state ref."""
