"""What happens after a publish beyond the state files: the managers' email, the ping URL."""
