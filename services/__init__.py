"""Services: configuration, embedded servers, the composition root and the command line."""
