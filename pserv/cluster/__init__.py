"""
The cluster daemon: it runs the region's power requests on the hardware
near it, reports every step back, and converges on the region's intent
whenever it (re)connects.
"""
