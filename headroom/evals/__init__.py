"""`python -m headroom.evals`: check that compression keeps the facts an agent needs to answer."""
