"""Network generators: the committed sample network and large synthetic ones, all from real US cities."""
