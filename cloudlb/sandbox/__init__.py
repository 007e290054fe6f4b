"""``cloudlb sandbox``: an emulated cluster and an emulated cloud with the real controller between them."""
