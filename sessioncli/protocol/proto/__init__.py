"""Generated protobuf code for the Session wire messages (session.proto -> session_pb2); do not edit."""
