"""Jobs: their states, specs, the worker protocol, resources, the scheduler and the runner."""
