"""Credits: the packages for sale and the ledger of what each user holds."""
