"""Side-by-side benchmarks: dockermem against the docker command a user would otherwise run."""
