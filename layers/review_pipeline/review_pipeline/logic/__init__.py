"""Domain logic behind each function: the handlers call one function here and shape nothing else."""
