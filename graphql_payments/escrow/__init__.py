"""Escrow for marketplace orders: hold the customer's money, pay the runner, or give it back."""
