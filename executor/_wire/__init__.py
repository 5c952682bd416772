"""Everything gRPC and protobuf of the engine: the channel and stubs, the ProposeStates stream,
the conversions, and `GrpcPort`, which implements the engine's port (executor._port) over them."""

from executor._wire.channel import Connection
from executor._wire.port import GrpcPort

__all__ = ["Connection", "GrpcPort"]
