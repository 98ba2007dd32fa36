"""Model FLOPs of BERT, for MFU (model FLOPs utilization).

Only matrix multiplications are counted (2 FLOPs per multiply-add); element-
wise work (GELU, LayerNorm, softmax, dropout, embedding lookups, the
optimizer) is not, as is usual for MFU. The count is the work the model
needs, whatever an implementation actually does: transformers'
BertForPreTraining runs the MLM decoder over all T positions, but MFU counts
only the P labelled ones for every system, so that its MFU and verto's are
the same model FLOPs over each one's own time.

Symbols: L layers, H hidden size, I intermediate size, T sequence length,
V vocabulary, P labelled (masked) positions per sequence, C classes.

Forward FLOPs per token of one encoder layer:
    2 * (3 H^2 + H^2)     Q, K, V and attention-output projections
  + 2 * (2 H I)           feed-forward up and down
  + 2 * 2 T H             Q K^T scores and probabilities x V (every head
                          together: T keys of H/heads dims for each of the heads)
  = 8 H^2 + 4 H I + 4 T H

Pretraining forward FLOPs per token (the heads' per-sequence work spread
over the T tokens of the sequence):
    L (8 H^2 + 4 H I + 4 T H)
  + (2 H^2 + 2 * 2 H) / T        pooler (dense H x H) and NSP classifier (H x 2)
  + P/T * 2 (H^2 + H V)          MLM transform (dense H x H) and decoder (H x V)
                                 at the labelled positions only

Training = forward + backward = 3 x forward (the backward computes the
gradient of each matmul's input and of its weight: two matmuls of the same
size per forward matmul; the first layer's input gradient is needed too,
since the embeddings are trained).

Inference (sequence classification) forward FLOPs per sequence. A sequence
classifier reads the last layer's output at the first token only, so the work
it needs of that layer is the keys and values at every position and the rest
at the first token (what verto computes with cls_only, but for its queries,
which come out of the fused QKV product at every position: 2 H^2 (T - 1)
more, under 1% of a base model's forward; transformers and ONNX Runtime run
the whole last layer). As for pretraining, MFU counts this needed work for
every system:
    T (L - 1) (8 H^2 + 4 H I + 4 T H)       the other layers
  + 4 T H^2 + 4 H^2 + 4 H I + 4 T H         last layer: K and V at T positions;
                                            Q, output projection and FFN at one;
                                            one query's scores and values
  + 2 H^2 + 2 H C                           the head: a dense H x H and H x C
The head is the same size in every family: BERT's pooler and classifier,
RoBERTa's classification head (dense + tanh + out_proj on the first token),
DistilBERT's pre_classifier + ReLU + classifier. Embeddings (word, position,
token type) are lookups, not counted.

Example, BERT-mini pretraining (L4 H256 I1024, T128, P20, V30522):
27.8 MFLOP per token, of which the MLM decoder is about a quarter."""


def encoder_layer_flops_per_token(hidden, intermediate, seq_len):
    return 8 * hidden**2 + 4 * hidden * intermediate + 4 * seq_len * hidden


def pretrain_flops_per_token(layers, hidden, intermediate, seq_len, vocab, masked):
    forward = (layers * encoder_layer_flops_per_token(hidden, intermediate, seq_len)
               + (2 * hidden**2 + 4 * hidden) / seq_len
               + masked / seq_len * 2 * (hidden**2 + hidden * vocab))
    return 3 * forward


def classify_flops_per_sequence(layers, hidden, intermediate, seq_len, classes=2, full_last_layer=False):
    """The work a sequence classifier needs; full_last_layer: the last layer at
    every position, as transformers and ONNX Runtime compute it."""
    H, I, T = hidden, intermediate, seq_len
    per_token = encoder_layer_flops_per_token(H, I, T)
    last = T * per_token if full_last_layer else 4 * T * H**2 + 4 * H**2 + 4 * H * I + 4 * T * H
    return T * (layers - 1) * per_token + last + 2 * H**2 + 2 * H * classes


if __name__ == "__main__":
    for name, (l, h) in {"mini": (4, 256), "small": (4, 512)}.items():
        f = pretrain_flops_per_token(l, h, 4 * h, 128, 30522, 20)
        print(f"{name}: {f / 1e6:.1f} MFLOP per pretraining token")
    for name, (l, h, i) in {"bert-small": (4, 512, 2048), "all-MiniLM-L6-v2": (6, 384, 1536),
                            "roberta-base": (12, 768, 3072), "distilbert-base": (6, 768, 3072)}.items():
        f, full = (classify_flops_per_sequence(l, h, i, 128, full_last_layer=x) / 1e9 for x in (False, True))
        print(f"{name}: {f:.2f} GFLOP per classified 128-token sequence ({full:.2f} with the full last layer)")
