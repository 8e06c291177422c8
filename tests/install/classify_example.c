/* A program outside sonodream, linked against the installed library: it
 * classifies one sound with a model and prints the most probable class.
 * usage: classify_example MODEL SOUND */
#include <stdio.h>
#include <stdlib.h>

#include <sonodream/classifier.h>

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: %s MODEL SOUND\n", argv[0]), 2;
    sono_error err = {0};
    sono_classifier *c = NULL;
    if (sono_classifier_load(argv[1], 1, &c, NULL, &err) != SONO_OK) return fprintf(stderr, "%s\n", err.message), 1;
    float *probs = malloc((size_t)c->class_count * sizeof *probs);
    int windows = 0, best = 0;
    if (!probs || sono_classifier_classify_file(c, argv[2], probs, &windows, &err) != SONO_OK)
        return fprintf(stderr, "%s\n", probs ? err.message : "out of memory"), 1;
    for (int k = 1; k < c->class_count; k++) if (probs[k] > probs[best]) best = k;
    printf("%s %.3f\n", c->class_names[best], probs[best]);
    free(probs);
    sono_classifier_free(c);
    return 0;
}
