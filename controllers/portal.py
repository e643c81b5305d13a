"""Portal pages of the addon (client consent signing)."""
