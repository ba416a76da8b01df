print("imagesctl")
