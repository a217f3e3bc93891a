"""Frame generators behind one interface: the interface, the baselines, the registry of model names, and what
every model shares: the point-cache geometry (`geometry`) and the torch device it runs on (`device`)."""
