"""Identity: users, the bidder numbers they act for, passwords, sessions and MFA."""
