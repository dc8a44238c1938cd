"""OPC UA client driver (`opcua://`), built on asyncua: addresses, sessions, security, browsing."""
