"""The painter: the world model that paints the look of every frame over the blockout's passes."""
