"""Pure domain logic: no boto3, no requests, no clock calls (time is passed in)."""
