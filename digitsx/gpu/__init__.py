"""GPUs: discovery through NVML, fake devices for tests, and live telemetry."""
