/* Which layer a dream takes by default, and what its windows need: read
 * from the net alone, so the dream's state (dream_state.c), the guide
 * (guide.c) and the report (dream_report.c) all ask here. */
#include "sonodream/dream.h"

int sono_dream_default_layer(const sono_net *net) {
    int count = sono_net_layer_count(net), convs = 0;
    for (int i = 0; i < count; i++) convs += sono_net_layer(net, i)->type == SONO_LAYER_CONV;
    if (convs == 0) return count >= 2 ? count - 2 : count - 1;
    int want = (convs + 1) / 2;
    for (int i = 0, seen = 0; i < count; i++)
        if (sono_net_layer(net, i)->type == SONO_LAYER_CONV && ++seen == want) return i;
    return count - 1;
}

int sono_dream_needs_full_window(const sono_net *net, int layer) {
    for (int i = 0; i <= layer && i < sono_net_layer_count(net); i++) {
        sono_layer_type t = sono_net_layer(net, i)->type;
        if (t == SONO_LAYER_FLATTEN || t == SONO_LAYER_DENSE) return 1;
    }
    return 0;
}
