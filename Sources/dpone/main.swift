print("dpone")
