"""Published CarRacing CMA-ES curves our long run is drawn against (numbers, read from the logs).

``REFERENCE_*``: hardmaru/WorldModelsExperiments ``carracing/log/carracing.cma.16.64.hist.json``
(population mean return per generation, 64 x 16 rollouts) and ``...hist_best.json`` (the mean of
the distribution evaluated every 25 generations on 1,024 rollouts). ``ZACWELLMER_EVAL``:
zacwellmer/WorldModels' reported evaluations (TF2 reproduction).
"""

REFERENCE_POP_MEAN = {
    1: -54.6, 2: -44.16, 3: -24.89, 4: 11.01, 5: 40.81, 6: 92.09, 7: 148.12, 8: 177.34,
    9: 211.19, 10: 307.94, 15: 438.26, 20: 585.24, 25: 668.34, 30: 680.01, 40: 740.69,
    50: 766.82, 75: 766.88, 100: 799.49, 150: 822.38, 200: 822.9,
}  # fmt: skip
REFERENCE_EVAL = {
    25: 822.88, 50: 867.47, 75: 869.94, 100: 866.99, 150: 875.49, 200: 880.42, 300: 883.24,
    500: 890.58, 1000: 892.15, 1500: 896.38, 1800: 900.46, 2000: 899.97,
}  # fmt: skip
ZACWELLMER_EVAL = {10: 730.5, 50: 841.9, 200: 885.5}
SOLVED = 900.0
