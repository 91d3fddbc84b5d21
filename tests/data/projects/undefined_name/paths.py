def home_file(name):
    return os.path.join("/home", name)
