"""Frame generators: the world model and the evaluation baselines, behind one interface."""
