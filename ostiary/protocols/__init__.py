"""Login protocols, one package each."""
