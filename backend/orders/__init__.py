"""Orders: what a payer pays for, the order state machine and the services that move it."""
