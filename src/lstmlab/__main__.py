from .cli import entry

if __name__ == "__main__":  # not when a spawned helper process imports it
    entry()
