"""The events on the state ref: their types, payloads and ids, and the pure fold over them."""
