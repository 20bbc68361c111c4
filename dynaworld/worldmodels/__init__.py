"""World Models (Ha & Schmidhuber 2018) at run time: V, M and C trained as a setting of Algorithm 1
(``setting``, composed by ``pipeline``), with the run folder (``run``), rollouts (``data``,
``rollout``), the V and M fits (``fit``) and C's CMA-ES and evaluation (``control``). The paper's
reports, tables and figures are in ``dynaworld.studies.worldmodels``."""
