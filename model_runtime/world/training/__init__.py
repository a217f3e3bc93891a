"""Training the world model: the trainer and the `train` command, the run's settings, what the dynamics stage
trains on, the losses, and the state a run resumes from."""
