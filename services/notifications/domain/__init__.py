"""What the rpc layer calls: channels, who may touch them, the consumer, the dispatcher and the expiry check."""
