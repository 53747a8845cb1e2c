"""Pure converters between the protobuf contracts and JSON / domain values."""
