"""_support"""
