"""trocadero.playout"""
