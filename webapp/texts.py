"""Every word the app shows, in English and Korean.

Static labels go through gr.I18n (the browser's language picks, in the page). Text computed per request
(cards, notices, errors) cannot use gr.I18n, so it comes from `say(key, lang)` with the language read
from the request's Accept-Language header (see webapp.logic.lang_of).
"""
from __future__ import annotations

import re

import gradio as gr

from zoo.encoder import ARCH_NAMES

from .chart_texts import CHART

ARCH_NAMES_KO = {**ARCH_NAMES, "rnn": "바닐라 RNN"}  # the architectures as a Korean page names them

UI = {
    "en": {
        "title": "# seqzoo — vanilla RNN, LSTM and BiLSTM side by side",
        "intro": "The same input goes to three trained models at once. Click an example or type your own.",
        "tab_sentiment": "Many to one: sentiment", "tab_ner": "Many to many: named entities",
        "tab_caption": "One to many: image captions", "tab_inside": "Inside the cell",
        "tab_memory": "Long-term memory", "tab_shapes": "Shapes",
        "sentence": "Sentence", "review": "Review (a sentence or a paragraph)", "run": "Run the three models",
        "shift_enter": "Shift+Enter runs; Enter starts a new line",
        "examples": "Examples", **ARCH_NAMES,
        "by_step": "P(positive) after each word",
        "by_step_x": "word", "by_step_n": "word number", "by_step_y": "P(positive)", "by_step_model": "model",
        "by_step_note": "The RNN's and the LSTM's curves are their reading so far: the prediction each would make if "
                        "the text stopped at that word, ending at its answer above. The BiLSTM's curve is its forward "
                        "(left-to-right) half alone: its backward half starts from the last word and has no reading "
                        "so far, so this curve need not end at the BiLSTM's answer.",
        "legend": "Entity types: **PER** person · **ORG** organisation · **LOC** place · **MISC** other names. "
                  "Confidence: each word's most likely tag's probability (from the word's own scores, before the CRF "
                  "picks the tags together), averaged over the words (O, no entity, counts too: a text with no "
                  "names can be read with confidence). The vanilla RNN and the LSTM score alike here: CoNLL sentences "
                  "are short, and a tag depends mostly on the word itself and its neighbours. The BiLSTM, which also "
                  "reads the words after each word, scores over 4 F1 points more. They learned from news text, where "
                  "names start with a capital letter: written in lower case, names are missed.",
        "caption_intro": "One image in, a sentence out: the image's feature starts each decoder, which then writes "
                         "word by word. The BiLSTM is two LSTM decoders, one writing left to right and one right to "
                         "left; the caption wins that the two decoders together score best. The BiLSTM's two decoders "
                         "are 256 units wide each and the LSTM's single decoder 448, so the BiLSTM has fewer parameters. "
                         "The models learned from Flickr8k's "
                         "6,000 training photos, mostly people and dogs (a dog in 25% of them, a cat in only 15 photos): they "
                         "see a man riding the parked motorcycle, and a dog or a child in the cat and the cup.",
        "caption_image": "Image (upload, webcam or an example)", "beam": "Beam width",
        "decoder_image": "Image (upload, paste or an example)",
        "inside_intro": "Every number below is computed step by step by `zoo.cells.trace` with the chosen "
                        "model's real weights: rows are hidden units, columns are the words.",
        "model": "Model", "direction": "Direction (BiLSTM)", "show": "Show inside",
        "memory_intro": "The seed note's long-term dependency problem, measured on the trained models. A vanilla "
                        "RNN's only memory is h_t = tanh(W_x x_t + W_h h_{t-1} + b), so what an early word wrote "
                        "fades step by step; the LSTM's cell state c_t = f_t * c_{t-1} + i_t * g_t carries it on in "
                        "the units whose forget gates stay near 1. The IMDB LSTM, trained on reviews of hundreds of "
                        "words, still holds about half of the first word after 80 words in one unit in ten (the "
                        "lifetime chart below: dashed, the 90th-percentile unit), while most units let it go (solid, "
                        "the median). In the SST-2 and "
                        "CoNLL LSTMs, trained on texts of 9-15 words on average, even that unit in ten keeps under a "
                        "fifth as much: a long memory is learned where the data asks for one.",
        "task": "Models", "compare": "Compare RNN, LSTM and BiLSTM", "sentiment_models": "Models",
        "memory_note": "How much each word moves the prediction (a sentiment model's verdict; a tagger's tag for the "
                       "last word): the gradient norm of the prediction with respect to "
                       "each word's input vector, divided by the last word's, so models of different scale compare "
                       "(log scale). Going back from the end of a long text (the default's 80 words), the vanilla "
                       "RNN's falls by orders of magnitude (the vanishing gradient); the LSTM's stays within reach. A "
                       "short text has little distance to vanish over. The dotted line and band: the same over "
                       "200 IMDB validation reviews (the geometric mean, 10-90%; drawn where the checkpoint recorded "
                       "them), so this one text is not the whole story. A sentiment "
                       "BiLSTM's early words stay close to the answer: its backward half reads them last, and the IMDB "
                       "BiLSTM also takes the maximum of its outputs over the whole text, a short path from every word "
                       "to the answer. Values under 1e-30 are drawn at 1e-30.",
        "lifetime_note": "How much of what a model wrote at each word is still there after the last word. LSTM (upper "
                         "panel): the product of the forget gates that came after it, per unit (near 1 keeps, near 0 "
                         "erases): solid for the median unit, dashed for the 90th-percentile unit (one unit in ten keeps at least "
                         "that much). "
                         "Vanilla RNN (lower panel): the size of d h_T / d h_t, the only way back it has. The two are "
                         "different quantities, a share and a size, so the panels are not read against each other: "
                         "the gradient chart further up measures all three models the same way. Values under 1e-30 are drawn at "
                         "1e-30.",
        "probe_intro": "### Distance probe\nA clear verdict (\"A brilliant movie, I loved every minute of it.\") followed "
                       "by k words of neutral, factual text, and each model is asked for the sentiment: to answer, it "
                       "must carry the verdict across k words. 40 verdicts, half positive; 50% is chance. Dashed: "
                       "the control, the same neutral text first and the verdict last. It is not always 100% either: "
                       "the verdict is then read from the state the neutral text left, not from an empty one. A "
                       "BiLSTM is tested only in its forward half: its backward half reads the verdict last, never k "
                       "words away from the answer. The IMDB BiLSTM, which also takes the maximum of its outputs, stays "
                       "at 100% at every k; the SST-2 BiLSTM, which reads each half's final state, still drops.",
        "probe_run": "Run the probe",
        "shapes_intro": "The seed note's dimension walk-through on a real torch layer. Defaults are its "
                        "`SimpleRNN(3, input_shape=(2, 10))`.",
        "timesteps": "Timesteps", "input_size": "Input size", "hidden_size": "Hidden size (units)",
        "cell": "Cell", "bidirectional": "Bidirectional", "return_sequences": "Return sequences",
        "explain": "Show the shapes",
        "tab_why": "Why the cell", "why_run": "Flip the switches",
        "why_intro": "The seed note explains why the LSTM is built as it is. Here the same trained weights run with "
                     "one piece of the cell changed, through the readable cells: the forget gate forced to 1 or 0, "
                     "the input or output gate forced to 1, every gate product a * b replaced by a sum a + b or by "
                     "a matrix product that is not diagonal, or no tanh on the cell state.",
        "why_note": "The last column is each variant's score on the validation split with the same weights "
                    "(`python train/what_if.py`). A gate that multiplies is a valve per unit: 0 closes, 1 opens; "
                    "added instead, it can only shift a value, and the cell state runs away in every unit (the lower "
                    "panel of the chart below; with products only a unit whose forget gate stays near 1 keeps adding "
                    "up, as a counter does); as a matrix that is not diagonal, it mixes the units, so none can be opened or "
                    "shut on its own. The weights were "
                    "trained with products, so a drop shows how much these models rely on them, not that a cell "
                    "built the other way could not be trained.",
        "size_note": "Why tanh before the output gate: the cell state adds up what is written, so |c_t| can grow "
                     "past 1; tanh(c_t), and so h_t, stay between -1 and 1.",
        "right_intro": "### Right context, word by word (NER)\nThe sentence is revealed one word at a time; each row "
                       "is what the tagger says with only those words. Earlier tags can change as later words arrive, for "
                       "two reasons: the BiLSTM's backward half reads the words after each word, and in both taggers "
                       "the CRF chooses the best tags for the whole sentence so far. In the starting sentence only the "
                       "BiLSTM's tag changes: it finds that Cunningham is a person once it has read \"signed as\".",
        "right_run": "Reveal word by word",
        "decoder_intro": "### Inside a caption decoder\nThe decoder's h, c and gates while it writes its caption, "
                         "one column per generated word, starting from the state the image gave it. caption-bilstm "
                         "has two decoders: forward (left to right) and backward (right to left).",
        "note_intro": "### From the note: its NumPy loop on real weights\nThe seed note's three-line NumPy RNN loop, "
                      "run on a trained vanilla RNN's own weights and word vectors, beside the model's encoder.",
        "note_run": "Run the note's loop",
    },
    "ko": {
        "title": "# seqzoo — 바닐라 RNN, LSTM, BiLSTM 나란히 보기",
        "intro": "같은 입력을 학습된 세 모델에 한꺼번에 넣습니다. 예시를 누르거나 직접 입력해 보세요.",
        "tab_sentiment": "다대일 (Many to one): 감성 분류", "tab_ner": "다대다 (Many to many): 개체명 인식",
        "tab_caption": "일대다 (One to many): 이미지 캡션", "tab_inside": "셀 내부 보기",
        "tab_memory": "장기 기억", "tab_shapes": "텐서 모양",
        "sentence": "문장", "review": "리뷰 (한 문장 또는 한 문단)", "run": "세 모델 실행",
        "shift_enter": "Shift+Enter로 실행, Enter는 줄바꿈",
        "examples": "예시", **ARCH_NAMES_KO,
        "by_step": "단어별 P(긍정)",
        "by_step_x": "단어", "by_step_n": "단어 번호", "by_step_y": "P(긍정)", "by_step_model": "모델",
        "by_step_note": "RNN과 LSTM의 곡선은 그 단어까지 읽었을 때의 판단, 곧 글이 거기서 끝났다면 모델이 내렸을 예측이며, "
                        "위의 답에서 끝납니다. BiLSTM 곡선은 앞 방향(왼쪽→오른쪽) 절반만 쓴 것입니다. 뒤 방향은 마지막 "
                        "단어부터 읽으므로 '지금까지 읽은 판단'이 없습니다. 그래서 이 곡선의 끝은 BiLSTM의 답과 다를 수 있습니다.",
        "legend": "개체 종류: **PER** 사람 · **ORG** 조직 · **LOC** 장소 · **MISC** 기타 고유 명사. "
                  "확신도: 단어마다 가장 가능성 높은 태그의 확률(CRF가 태그를 함께 고르기 전, 그 단어 자신의 점수로 계산)을 단어 전체에 대해 평균한 값입니다(개체가 아님을 뜻하는 "
                  "O도 포함하므로, 이름이 없는 문장도 높은 확신도로 읽을 수 있습니다). 여기서는 바닐라 RNN과 LSTM의 점수가 "
                  "비슷합니다: CoNLL 문장은 짧고, 태그는 주로 그 단어 자신과 이웃 단어로 정해지기 때문입니다. 각 단어 뒤의 "
                  "단어까지 읽는 BiLSTM은 F1이 4점 넘게 높습니다. 모델은 이름이 대문자로 시작하는 뉴스 기사로 배웠기 "
                  "때문에, 소문자로 쓴 이름은 찾지 못합니다.",
        "caption_intro": "이미지 하나를 넣으면 문장이 나옵니다: 이미지 특징으로 디코더의 첫 상태를 만들고, 디코더는 단어를 "
                         "하나씩 씁니다. BiLSTM은 왼쪽→오른쪽, 오른쪽→왼쪽으로 쓰는 두 LSTM 디코더이며, 둘이 함께 "
                         "가장 높게 평가한 캡션이 선택됩니다. BiLSTM의 디코더는 각각 256유닛, LSTM의 디코더는 448유닛이라 "
                         "BiLSTM의 파라미터가 더 적습니다. 모델은 Flickr8k 학습 사진 6,000장으로 배웠는데, 대부분 사람과 개의 "
                         "사진입니다(개가 나오는 사진이 25%, 고양이는 15장). 그래서 세워 둔 오토바이에는 타는 사람을 "
                         "더하고, 고양이와 컵은 개나 아이로 봅니다.",
        "caption_image": "이미지 (업로드, 웹캠 또는 예시)", "beam": "빔 크기", "decoder_image": "이미지 (업로드, 붙여넣기 또는 예시)",
        "inside_intro": "아래의 모든 값은 선택한 모델의 실제 가중치로 `zoo.cells.trace`가 한 시점씩 계산한 것입니다. "
                        "행은 은닉 유닛, 열은 단어입니다.",
        "model": "모델", "direction": "방향 (BiLSTM)", "show": "내부 보기",
        "memory_intro": "학습 노트의 장기 의존성 문제를 학습된 모델로 직접 잽니다. 바닐라 RNN의 기억은 "
                        "h_t = tanh(W_x x_t + W_h h_{t-1} + b) 하나뿐이라 앞 단어의 정보가 시점마다 흐려지고, LSTM의 셀 상태 "
                        "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t는 삭제 게이트가 1에 가까이 머무는 유닛에서 정보를 실어 나릅니다. "
                        "수백 단어짜리 리뷰로 학습한 IMDB LSTM은 80단어가 지나도 유닛 10개 중 1개에 첫 단어의 약 절반이 "
                        "남아 있고(아래 수명 차트의 점선: 90번째 백분위 유닛), 대부분의 유닛은 정보를 잊어버립니다(실선: 중앙값 유닛). 평균 "
                        "9-15단어의 짧은 글로 학습한 SST-2와 CoNLL LSTM은 그 10개 중 1개의 유닛조차 5분의 1도 남기지 못합니다: "
                        "긴 기억은 데이터가 요구할 때 학습됩니다.",
        "task": "모델 종류", "compare": "RNN, LSTM, BiLSTM 비교", "sentiment_models": "모델 종류",
        "memory_note": "각 단어가 예측(감성 모델은 판단, 태거는 마지막 단어의 태그)을 얼마나 움직이는지: 각 단어의 입력 "
                       "벡터에 대한 예측의 기울기 크기를 마지막 단어의 값으로 "
                       "나눈 것입니다(로그 눈금). 그래서 크기가 다른 모델끼리도 비교할 수 있습니다. 긴 텍스트(기본 예시는 80단어)의 "
                       "끝에서 앞으로 갈수록 바닐라 "
                       "RNN의 값은 여러 자릿수만큼 작아지고(기울기 소실), LSTM은 여전히 예측을 움직일 만한 "
                       "크기로 남습니다. 짧은 텍스트에서는 기울기가 사라질 만한 거리가 없습니다. 점선과 띠는 IMDB 검증 리뷰 "
                       "200개에서 잰 같은 값(기하 평균, 10-90%; 체크포인트에 기록된 "
                       "경우에만 그립니다)을 함께 그려, 이 텍스트 하나만으로 판단하지 않게 합니다. "
                       "감성 BiLSTM에서는 앞 단어가 답과 가깝습니다: 뒤 방향이 앞 단어를 마지막에 읽고, IMDB BiLSTM은 텍스트 전체에 "
                       "걸친 출력의 최댓값을 쓰므로 모든 단어에서 답까지 가는 경로가 짧습니다. 1e-30보다 작은 값은 1e-30 위치에 그립니다.",
        "lifetime_note": "각 단어에서 쓴 정보가 마지막 단어 뒤에 얼마나 남아 있는지. LSTM(위 그림): 그 뒤에 온 삭제 게이트 값들의 "
                         "곱(유닛마다; 1에 가까우면 유지, 0에 가까우면 삭제). 실선은 중앙값 유닛, 점선은 90번째 백분위 유닛(유닛 10개 중 "
                         "1개는 적어도 이만큼 유지). 바닐라 RNN(아래 그림)은 셀 상태가 없어 h로 되돌아가는 길만 있습니다: d h_T / d h_t의 크기. "
                         "둘은 비율과 크기로 서로 다른 양이라 두 그림의 높이를 맞대어 비교하지 않습니다. 세 모델을 같은 방법으로 "
                         "잰 것은 위의 기울기 그림입니다. 1e-30보다 작은 값은 1e-30 위치에 그립니다.",
        "probe_intro": "### 거리 실험\n분명한 평가 문장(\"A brilliant movie, I loved every minute of it.\") 뒤에 중립적인 "
                       "사실 문장 k단어를 붙이고 감성을 묻습니다. 답하려면 평가를 k단어 너머까지 기억해야 합니다. 평가 문장 40개, "
                       "절반이 긍정이라 50%가 우연 수준입니다. 점선은 대조군: 같은 중립 문장을 앞에, 평가 문장을 맨 끝에 둡니다. "
                       "대조군도 늘 100%는 아닙니다: 이때 평가 문장은 빈 상태가 아니라 중립 문장이 남긴 상태에서 읽힙니다. "
                       "BiLSTM은 앞 방향 절반만 이 실험으로 잴 수 있습니다: 뒤 방향 절반은 평가 문장을 마지막에 읽으므로 답에서 "
                       "k단어 떨어져 있지 않습니다. 출력의 최댓값도 쓰는 IMDB BiLSTM은 모든 k에서 100%이고, 각 방향의 마지막 "
                       "상태를 읽는 SST-2 BiLSTM은 그래도 떨어집니다.",
        "probe_run": "실험 실행",
        "shapes_intro": "학습 노트의 차원 설명을 실제 torch 레이어로 확인합니다. 기본값은 노트의 "
                        "`SimpleRNN(3, input_shape=(2, 10))`입니다.",
        "timesteps": "시점 수 (timesteps)", "input_size": "입력 크기", "hidden_size": "은닉 상태 크기 (units)",
        "cell": "셀", "bidirectional": "양방향", "return_sequences": "모든 시점 출력 (return_sequences)",
        "explain": "모양 보기",
        "tab_why": "셀의 설계 이유", "why_run": "스위치 바꿔 보기",
        "why_intro": "학습 노트는 LSTM이 왜 이렇게 생겼는지 설명합니다. 여기서는 학습된 가중치는 그대로 두고 셀의 한 부분만 "
                     "바꿔서, 한 시점씩 풀어 쓴 셀(`zoo/cells.py`)로 실행합니다: 삭제 게이트를 1 또는 0으로 고정, 입력 게이트나 "
                     "출력 게이트를 1로 고정, 게이트의 원소곱 a * b를 덧셈 a + b나 대각이 아닌 행렬곱으로 바꾸기, 셀 상태의 "
                     "tanh 빼기. (여기서 *는 행렬곱이 아니라 원소곱 ⊙입니다.)",
        "why_note": "마지막 열은 같은 가중치로 각 변형을 검증 데이터에서 잰 점수입니다(`python train/what_if.py`). 곱하는 "
                    "게이트는 유닛마다 있는 밸브입니다: 0이면 잠그고 1이면 엽니다. 더하면 값을 일정량 밀어 올리거나 내릴 뿐 "
                    "열고 닫지 못하고, 모든 유닛에서 셀 상태가 걷잡을 수 없이 커집니다(아래 그림의 아래 칸; 곱할 때는 "
                    "삭제 게이트가 1 가까이 머무는 유닛만 계수기처럼 값을 계속 쌓습니다). 대각이 아닌 행렬로 곱하면 유닛끼리 값이 섞여, 어느 "
                    "유닛도 따로 열고 닫을 수 없습니다. 가중치는 원소곱 셀로 학습되었으므로, 점수가 떨어지는 것은 이 "
                    "모델들이 원소곱에 얼마나 기대는지를 보여 줄 뿐, 다르게 만든 셀은 학습될 수 없다는 증거는 아닙니다.",
        "size_note": "출력 게이트 앞에 tanh를 두는 이유: 셀 상태는 쓰인 값을 더해 가므로 |c_t|가 1을 넘을 수 "
                     "있습니다. 반면 tanh(c_t)는 -1과 1 사이로 눌리고, 따라서 h_t = o_t ⊙ tanh(c_t)도 그 범위에 머뭅니다.",
        "right_intro": "### 뒤쪽(오른쪽) 문맥, 한 단어씩 (개체명 인식)\n문장을 한 단어씩 보여 주고, 각 행은 그때까지의 단어만 "
                       "보고 태거가 붙인 태그입니다. 뒤 단어가 들어오면 앞 단어의 태그가 바뀔 수 있는데, 이유는 두 가지입니다: "
                       "BiLSTM은 뒤 방향이 각 단어 뒤의 단어도 읽고, 두 태거 모두 CRF가 지금까지 읽은 문장 전체에 대해 점수가 가장 "
                       "높은 태그 열을 고르기 때문입니다. 기본 예문에서 태그가 바뀌는 것은 BiLSTM뿐입니다: \"signed as\"를 읽고 나서야 Cunningham이 사람 "
                       "이름임을 알아냅니다.",
        "right_run": "한 단어씩 보기",
        "decoder_intro": "### 캡션 디코더 내부\n디코더가 캡션을 쓰는 동안의 h, c와 게이트. 생성한 단어마다 한 열이고, "
                         "이미지가 준 상태에서 시작합니다. caption-bilstm은 디코더가 두 개입니다: 앞 방향(왼쪽→오른쪽)과 "
                         "뒤 방향(오른쪽→왼쪽).",
        "note_intro": "### 노트에서: NumPy 루프를 실제 가중치로\n학습 노트의 세 줄짜리 NumPy RNN 루프를 학습된 바닐라 RNN의 "
                      "가중치와 단어 벡터로 실행해 모델의 인코더와 나란히 봅니다.",
        "note_run": "노트의 루프 실행",
    },
}
# What the seed note (docs/seed-note.ko.md) says about each part of the cell, shown beside its heatmap.
CELL_NOTES = {
    "h": ("Hidden state h_t: the short-term output passed to the next step (backward: the word to its left) and "
          "to the output layer (a sentiment model's from its last step only).",
          "은닉 상태(h_t): 단기 출력, 다음 셀(뒤 방향이면 왼쪽 단어)과 출력층(감성 모델은 마지막 시점만)으로 가는 값."),
    "c": ("Cell state c_t: the real long-term memory, a line that carries what was read before straight on "
          "(backward: the words after it).",
          "셀 상태(c_t): 진짜 장기 기억, 먼저 읽은 정보(뒤 방향이면 뒤쪽 단어)를 직접 전달하는 선."),
    "i": ("Input gate i_t: what of the current input to remember (0 to 1).",
          "입력 게이트(i_t): 지금 정보 중 뭘 기억할까? (0~1)"),
    "f": ("Forget gate f_t: near 0 erases the old memory, near 1 keeps it whole.",
          "삭제 게이트(망각 게이트, forget gate; f_t): 0에 가까울수록 많이 삭제, 1에 가까울수록 온전히 기억."),
    "g": ("Candidate g_t: the new information itself that could be written (tanh, -1 to 1).",
          "기억 후보(g_t): 기억하고 싶은 정보 자체 (tanh, -1~1)."),
    "o": ("Output gate o_t: how much of tanh(c_t) to let out as h_t.",
          "출력 게이트(o_t): tanh(c_t)에서 무엇을 얼마만큼 꺼내 h_t로 내보낼까?"),
}
for _part, (_en, _ko) in CELL_NOTES.items():  # shown beside each heatmap, in the page's language
    UI["en"][f"cell_note_{_part}"], UI["ko"][f"cell_note_{_part}"] = _en, _ko
I18N = gr.I18n(**UI)

# Where gradio cannot translate (radio choices, an examples table's headers): both languages at once
EXAMPLE_HEADERS = ["Review · 리뷰", "Models · 모델 종류"]
SET_LABELS = {"sst2": "short sentences (SST-2) · 짧은 문장", "imdb": "long reviews (IMDB) · 긴 리뷰",
              "ner": "named entities (CoNLL) · 개체명"}  # the model sets a tab offers (webapp.logic.MODEL_SETS)
DIRECTIONS = [("forward · 앞 방향", "forward"), ("backward · 뒤 방향", "backward")]

# per-request text: say(key, lang, **fields)
DYNAMIC = {
    "en": {
        "empty": "Please type some text first.", "not_text": "Expected text (a string), got {kind}.",
        "truncated": "Your text was longer than {limit:,} characters; only the first {limit:,} were used.",
        "word_read": "word read",
        "error_title": "Error",
        "more_entities": ", and {n} more (highlighted above)",
        "unknown_words": "Words outside the vocabulary (English, from the training data): {n} of the {total} read "
                         "({words}). Each reads as the same unknown word, so what is shown says little about this "
                         "text.",
        "some_unknown_words": "Words outside the vocabulary (English, from the training data): {n} of the {total} "
                              "read ({words}). Each reads as the same unknown word: what it means does not reach "
                              "the answers.",
        "tok_truncated": "Only the first {limit} words are shown here (your text has {n}).",
        "tok_truncated_cut": "Only the first {limit} words are shown here.",
        "max_len_cut": "These models read the first {limit} words; your text has {n}, so the rest was not read.",
        "glued_particle": "A name with a Korean particle glued on ({words}) is one word to the taggers, which learned "
                          "English news text: the name is read with its particle, and Korean words beside it can be "
                          "pulled into the entity. They tag English sentences.",
        "long_for_sst2": "{n} words: longer than any sentence the SST-2 models learned from ({most} words at most). The "
                         "IMDB models, trained on long reviews, are the ones for a text like this (choose them above).",
        "one_word": "One word: the answers below are the models' reading of it; the chart of the reading word by word "
                    "needs two words or more.",
        "one_word_memory": "One word: these charts show how memory fades over the words of a text, so they need two "
                           "words or more (each chart has one point).",
        "max_len_cut_cut": "These models read the first {limit} words; the rest was not read.",
        "one_direction": "{name} reads in one direction only: there is no backward direction to show.",
        "bad_direction": "The direction must be 'forward' or 'backward', got {value!r}.",
        "params_n": "{n:,} parameters", "accuracy": "accuracy", "f1": "F1", "bleu4": "BLEU-4",
        "cut_at": "cut at {n} words, unfinished",
        "decoder_beam": "Decoded with the checkpoint's own setting, beam {beam} (the caption tab uses its slider's, so "
                        "its caption can differ).",
        "unit": "unit", "title_h": "hidden state h_t", "title_c": "cell state c_t", "title_i": "input gate i_t",
        "title_f": "forget gate f_t", "title_g": "candidate g_t", "title_o": "output gate o_t",
        "forward": "forward", "backward": "backward", "decoder": "decoder", "word_vectors": "word vectors of `{model}`",
        # heatmap titles: a backward trace's columns are in sentence order, a backward decoder's in its writing order
        "backward_reads": "backward: reads right to left, columns in sentence order",
        "backward_writes": "backward decoder: writes right to left, columns in writing order",
        "no_models": "No {task} models are available yet ({why}).",
        "task_sentiment": "sentiment", "task_ner": "NER", "task_caption": "caption",
        "no_image": "Upload an image first (or click an example).",
        "bad_image": "This file cannot be captioned: {why}",
        "bad_beam": "The beam width must be a whole number from 1 to {max}.",
        "encoded": "Image encoded once by EfficientNet-Lite0 in {ms:.0f} ms; captions by beam search (beam {beam}), best first, with their length-normalised log-probabilities.",
        "missing": "This model is not available: {why}",
        "prediction": "Prediction", "confidence": "confidence", "time": "time",
        "test": "test", "entities": "entities", "none_found": "none found",
        "unknown_model": "Unknown model {name!r}; choose one of: {choices}.",
        "no_words": "The text has no words the model can read.",
        "positive": "positive", "negative": "negative", "inside_answer": "{name}'s answer on this text: **{label}** ({p:.2f}).",
        "cue_first": "verdict first", "cue_last": "verdict last",
        "switch": "switch", "changes": "what changes", "answer": "answer on your text", "validation": "validation",
        "real_cell": "nothing: the trained cell as it is", "word": "word", "model_col": "model",
        "flips": "{n} word(s) whose tag changed when later words arrived (in brackets: a tag given at that point and "
                 "changed once the rest of the sentence was read)",
        "note_match": "Largest difference between the note's loop and the model's encoder: {diff:.1e}.",
    },
    "ko": {
        "empty": "먼저 텍스트를 입력하세요.", "not_text": "텍스트(문자열)가 필요합니다. 받은 값: {kind}.",
        "truncated": "텍스트가 {limit:,}자를 넘어서 앞의 {limit:,}자만 사용했습니다.",
        "word_read": "읽은 단어",
        "error_title": "오류",
        "more_entities": " 외 {n}개 (위 텍스트에 표시)",
        "unknown_words": "모델의 어휘(학습 데이터의 영어 단어)에 없는 단어: 읽은 {total}개 중 {n}개 ({words}). 이런 "
                         "단어는 모두 같은 '모르는 단어' 하나로 읽히므로, 여기 보이는 결과는 이 글에 대해 큰 의미가 없습니다.",
        "some_unknown_words": "모델의 어휘(학습 데이터의 영어 단어)에 없는 단어: 읽은 {total}개 중 {n}개 ({words}). 이런 "
                              "단어는 모두 같은 '모르는 단어' 하나로 읽히므로, 그 뜻은 답에 반영되지 않습니다.",
        "tok_truncated": "여기에는 앞의 {limit}개 단어만 보입니다 (전체 {n}개).",
        "tok_truncated_cut": "여기에는 앞의 {limit}개 단어만 보입니다.",
        "max_len_cut": "이 모델들은 앞의 {limit}개 단어만 읽습니다. 입력은 {n}개 단어라 나머지는 읽지 않았습니다.",
        "glued_particle": "조사가 붙은 로마자 이름({words})은 영어 뉴스로 배운 태거에게 한 단어입니다: 이름을 조사와 함께 "
                          "읽고, 옆의 한국어 단어까지 개체에 끌어들일 수 있습니다. 태거는 영어 문장을 태그합니다.",
        "long_for_sst2": "{n}단어: SST-2 모델이 배운 어떤 문장(최대 {most}단어)보다 깁니다. 이런 글에는 긴 리뷰로 "
                         "학습한 IMDB 모델이 맞습니다(위에서 선택하세요).",
        "one_word": "단어가 하나뿐입니다. 아래의 답은 그 한 단어를 읽은 판단이며, 단어별 판단 그래프는 두 단어 이상일 때 그립니다.",
        "one_word_memory": "단어가 하나뿐입니다: 이 그림들은 글의 단어를 따라 기억이 흐려지는 모습을 보여 주므로 두 단어 "
                           "이상이 필요합니다(그림마다 점이 하나뿐입니다).",
        "max_len_cut_cut": "이 모델들은 앞의 {limit}개 단어만 읽고 나머지는 읽지 않았습니다.",
        "one_direction": "{name}은(는) 한 방향으로만 읽어서 보여 줄 뒤 방향이 없습니다.",
        "bad_direction": "방향은 'forward' 또는 'backward'여야 합니다. 받은 값: {value!r}.",
        "params_n": "파라미터 {n:,}개", "accuracy": "정확도", "f1": "F1", "bleu4": "BLEU-4",
        "cut_at": "{n}단어에서 잘림(끝맺지 못함)",
        "decoder_beam": "체크포인트 자체 설정(빔 {beam})으로 만들었습니다 (캡션 탭은 슬라이더 값을 쓰므로 캡션이 다를 수 "
                        "있습니다).",
        "unit": "유닛", "title_h": "은닉 상태 h_t", "title_c": "셀 상태 c_t", "title_i": "입력 게이트 i_t",
        "title_f": "삭제 게이트 f_t", "title_g": "기억 후보 g_t", "title_o": "출력 게이트 o_t",
        "forward": "앞 방향", "backward": "뒤 방향", "decoder": "디코더", "word_vectors": "`{model}`의 단어 벡터",
        "backward_reads": "뒤 방향: 오른쪽에서 왼쪽으로 읽음, 열은 문장 순서",
        "backward_writes": "뒤 방향 디코더: 오른쪽에서 왼쪽으로 씀, 열은 쓴 순서",
        "no_models": "아직 사용할 수 있는 {task} 모델이 없습니다 ({why}).",
        "task_sentiment": "감성 분류", "task_ner": "개체명 인식", "task_caption": "캡션",
        "no_image": "먼저 이미지를 올려 주세요 (또는 예시를 누르세요).",
        "bad_image": "이 파일로는 캡션을 만들 수 없습니다: {why}",
        "bad_beam": "빔 크기는 1부터 {max}까지의 정수여야 합니다.",
        "encoded": "이미지는 EfficientNet-Lite0로 한 번 인코딩({ms:.0f} ms)했고, 캡션은 빔 서치(빔 {beam})로 만들었습니다. 점수가 높은 순서이며 괄호 안은 길이로 정규화한 로그 확률입니다.",
        "missing": "이 모델을 사용할 수 없습니다: {why}",
        "prediction": "예측", "confidence": "확신도", "time": "시간",
        "test": "테스트", "entities": "개체", "none_found": "찾지 못함",
        "unknown_model": "알 수 없는 모델입니다: {name!r}. 다음 중에서 고르세요: {choices}.",
        "no_words": "모델이 읽을 수 있는 단어가 없습니다.",
        "positive": "긍정", "negative": "부정", "inside_answer": "이 텍스트에 대한 {name}의 답: **{label}** ({p:.2f}).",
        "cue_first": "평가 문장이 먼저", "cue_last": "평가 문장이 마지막",
        "switch": "스위치", "changes": "바뀌는 것", "answer": "입력 문장에 대한 답", "validation": "검증",
        "real_cell": "없음: 학습된 셀 그대로", "word": "단어", "model_col": "모델",
        "flips": "뒤 단어가 들어오면서 태그가 바뀐 단어 {n}개 (괄호 안: 그 시점에 붙었다가 문장을 끝까지 읽은 뒤 바뀐 "
                 "임시 태그)",
        "note_match": "노트의 루프와 모델 인코더의 가장 큰 차이: {diff:.1e}.",
    },
}

for _lang, _said in CHART.items():  # the charts' own words, said like the rest
    DYNAMIC[_lang].update(_said)


def say(key: str, lang: str = "en", **fields) -> str:
    table = DYNAMIC.get(lang, DYNAMIC["en"])
    return table.get(key, DYNAMIC["en"][key]).format(**fields)


# why an image was refused (tasks.image_encoder's and webapp.captions' English reasons), said in Korean: a
# phrase found in the reason -> the Korean sentence, with the English reason after it where that carries
# numbers or a path (bad_image); a reason without them is said in Korean alone
IMAGE_REASONS_KO = {
    "not an image file": "이미지 파일이 아닙니다",
    "damaged or truncated": "이미지 데이터가 손상되었거나 잘렸습니다",
    "expected an uploaded image file": "업로드한 이미지 파일이 아닙니다",
    "base64": "data: URL이 올바른 base64가 아닙니다",
    "not a file uploaded to this app": "이 앱에 업로드된 파일이 아닙니다",
    "no image file at": "그 경로에 이미지 파일이 없습니다",
    "is a folder, not an image": "그 경로는 이미지가 아니라 폴더입니다",
    "cannot read": "파일을 읽을 수 없습니다",
}


# the refusals that carry numbers (tasks.image_encoder's limits), in Korean with their numbers: a 30000x30000 PNG
# said its Korean sentence and then the whole English one, four lines of toast on a phone
IMAGE_NUMBERS_KO = {
    r"image is ([\d,]+) bytes; the limit is ([\d,]+)": "파일이 {0}바이트로 한도 {1}바이트보다 큽니다",
    r"decompression bomb: it has more pixels than the limit of ([\d,]+)":
        "픽셀 수가 한도 {0}을 넘어 압축 폭탄일 수 있는 이미지라 거부했습니다",
    r"image is (\d+x\d+) = ([\d,]+) pixels; the limit is ([\d,]+)": "이미지가 {0} = {1}픽셀로 한도 {2}픽셀을 넘습니다",
    r"image is (\d+x\d+) \S+: decoding it would take ([\d,]+) MiB; the limit is ([\d,]+) MiB":
        "{0} 이미지를 풀려면 메모리가 {1} MiB 들어 한도 {2} MiB를 넘습니다",
}


def bad_image(reason: str, lang: str) -> gr.Error:
    """An image refused, its reason in the page's language (in Korean: with its numbers where it has them, else
    the English after the Korean where that carries a path)."""
    said = None
    if lang == "ko":
        found = next((m for m in (re.search(rx, reason) for rx in IMAGE_NUMBERS_KO) if m), None)
        if found:
            said = IMAGE_NUMBERS_KO[found.re.pattern].format(*found.groups())
        else:
            said = next((ko for phrase, ko in IMAGE_REASONS_KO.items() if phrase in reason), None)
            if said and any(c.isdigit() or c in "/\\" for c in reason):  # a path (or a number) the Korean leaves out
                said = f"{said} ({reason})"
    return error("bad_image", lang, why=said or reason)


def toast(message: str, lang: str = "en") -> gr.Error:
    """A gr.Error whose toast's title is in the page's language too (gradio's own is "Error"). Its traceback is
    not printed: these are the app's answers to bad input, and a server log of one traceback per empty text hid
    the real faults, which still print theirs."""
    return gr.Error(message, title=say("error_title", lang), print_exception=False)


def error(key: str, lang: str = "en", **fields) -> gr.Error:
    """say()'s message as a gr.Error (toast)."""
    return toast(say(key, lang, **fields), lang)


# zoo.cells.SWITCHES (the English, which zoo owns) in Korean, for the what-if table
SWITCHES_KO = {
    "forget=1": "f_t를 1로 고정: c_t = c_{t-1} + i_t ⊙ g_t, 셀이 아무것도 잊지 않음",
    "forget=0": "f_t를 0으로 고정: c_t = i_t ⊙ g_t, 셀은 이전 시점의 기억을 넘겨받지 않음(바닐라 RNN처럼 시점 "
                "사이는 h_{t-1}로만 이어짐)",
    "input=1": "i_t를 1로 고정: c_t = f_t ⊙ c_{t-1} + g_t, 모든 기억 후보를 그대로 기록",
    "add": "게이트 곱 a ⊙ b를 모두 합 a + b로 바꿈: c_t = f_t + c_{t-1} + i_t + g_t, h_t = o_t + tanh(c_t); "
           "게이트가 값을 열고 닫지 못하고 밀어 올리거나 내리기만 함",
    "no-tanh": "셀 상태에 tanh를 씌우지 않음: h_t = o_t ⊙ c_t",
    "output=1": "o_t를 1로 고정: h_t = tanh(c_t), 셀 상태를 매 시점 모두 내보냄",
    "matrix": "게이트 곱 a ⊙ b를 대각이 아닌 행렬곱 (1 a^T / H) b로 바꿈: 모든 유닛이 같은 값, 곧 a · b / H를 받아 "
              "어느 유닛도 따로 열고 닫지 못함",
}

RNN_ONLY = ("A vanilla RNN has no cell state and no gates: h_t = tanh(W_x x_t + W_h h_{t-1} + b) is all of it.",
            "바닐라 RNN에는 셀 상태와 게이트가 없습니다: h_t = tanh(W_x x_t + W_h h_{t-1} + b)가 전부입니다.")
