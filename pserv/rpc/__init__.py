"""
The authenticated RPC between the region and its clusters.
"""
