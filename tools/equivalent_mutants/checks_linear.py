"""Surviving mutants of notebook 01's references (utils/reference/nb01_linear_autoencoder.py) judged equivalent."""

EQUIVALENT = {
    ("train", "def train(model, train_images, test_images, /, epochs, batch_size, lr):"):
        "the contract calls train with epochs, batch_size and lr as keywords, which this signature accepts too; it "
        "also accepts them by position, which no caller does, and computes the same thing",
    ("pca_reconstruction", "test = test_images.flatten( 2)"):
        "test images are (N, 1, 28, 28) by the contract, so flatten(2) gives (N, 1, 784); the projection "
        "broadcasts over the extra axis of size 1 and view_as(test_images) gives back the same reconstruction",
    ("pca_reconstruction", "_, _, Vh = torch.linalg.svd(train - mean, full_matrices=True)"):
        "the full SVD only adds rows to Vh beyond the min(N, 784) of the reduced one; its first k rows, the only "
        "ones used, are the same directions, so the reconstruction is the same (only slower)",
}
