"""The session side: a Session per eye with its cortexes, their supervisor, and the
reflector that tells the gateway's bridge its own address."""
