"""Settings for FastSock: ``base`` reads the environment, ``test`` adapts it for the test suite."""
