"""Notebook 05's surviving mutants that compute what the exercise asks (see tools/equivalent_mutants/__init__.py)."""

_LAST_OF_ONE = ("the function of one image adds a batch dimension of size 1 and takes its only row: row -1 of a batch "
                "of one is row 0")

EQUIVALENT = {
    ("jacobian_penalty",
     "jacobians = torch.func.vmap(torch.func.jacrev(lambda image: encoder(image[None])[ -1]))(images)  "
     "# (N, H, *image shape)"): _LAST_OF_ONE,
    ("sensitive_directions",
     "one_image = lambda one: encoder(one[None])[ -1]                          # (*image shape) -> (H,)"): _LAST_OF_ONE,
    ("sensitive_directions", "_, singular_values, vh = torch.linalg.svd(jacobian, full_matrices=True)"):
        "full_matrices only adds rows to Vh below the first min(H, D); the singular values and vh[:k] (k <= min(H, "
        "D), as the exercise states) are the same",
    ("contractive_loss", "penalty = sigmoid_jacobian_penalty(images.flatten( 2), layer.weight, layer.bias)"):
        "the images have one channel, (N, 1, 28, 28), as the exercise states: flatten(2) gives (N, 1, 784), the "
        "same numbers with a dimension of size 1, and the closed form's matrix products and mean give the same "
        "penalty",
}
