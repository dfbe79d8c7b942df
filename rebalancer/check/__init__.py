"""The independent check of a plan against its inputs."""
