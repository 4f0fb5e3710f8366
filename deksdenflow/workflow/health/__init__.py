"""`dflow doctor`: what dflow depends on, and runs or engines in a state it cannot move on from."""
