"""trocadero.core"""
