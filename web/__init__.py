"""trocadero.web"""
