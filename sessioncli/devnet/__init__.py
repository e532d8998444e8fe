"""A local Session network (seed + storage nodes + onion routing); shares no code with the client."""
