"""The Oyster world model: frame autoencoder, causal latent dynamics, 3D point cache."""
