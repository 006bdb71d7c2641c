"""trocadero.protocols"""
