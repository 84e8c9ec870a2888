# Engine integration tests: root, real TUN devices and UDP sockets in private namespaces.
