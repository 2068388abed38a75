"""`Pipeline`: snapshots -> churn and CLV models with baselines -> holdout evaluation -> scores.

The Python API behind ``cxml train`` and ``cxml score``; the configuration file only fills
in its arguments.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from cxml.actions import (
    ActionPlan,
    Catalogue,
    UpliftModel,
    action_values,
    column_kinds,
    plan_actions,
    unlearned_report,
)
from cxml.actions.catalogue import contact_column, replanning
from cxml.actions.contacts import campaign_history, days_since_contact
from cxml.actions.rules import Kind, Rule, RuleError
from cxml.actions.value import check_columns
from cxml.config import ProjectConfig, resolve_cutoffs
from cxml.data import Tables
from cxml.dates import shown
from cxml.errors import DataValidationError, ModelFitError, ParameterError, SnapshotError
from cxml.evaluation.holdout import BTYDCheck, Evaluation, evaluate
from cxml.features import (
    FeatureSpec,
    build_labels,
    build_snapshot,
    build_training_frame,
    parse_horizon,
)
from cxml.features.snapshot import nobody_seen, snapshot_columns
from cxml.features.sources import churned_by
from cxml.features.spec import LABELS, Horizon, as_cutoff, window_end
from cxml.models import BTYDModel, ChurnModel
from cxml.models.baselines import RecencyBaseline, last_period_value
from cxml.models.clv import CLVModel

SCORE_COLUMNS = (
    "customer_id",
    "churn_probability",
    "p_alive",
    "expected_purchases",
    "clv",
    "clv_lower",
    "clv_upper",
    "value_segment",
    "risk_segment",
    "churn_drivers",
)
#: Numeric score columns (eligibility rules may use them).
NUMERIC_SCORES = (
    "churn_probability",
    "p_alive",
    "expected_purchases",
    "clv",
    "clv_lower",
    "clv_upper",
)
#: Segment names, lowest first.
LEVELS = ("low", "medium", "high")
#: Names of the baselines in the evaluation table.
RECENCY, BTYD_CHURN, BTYD_CLV, LAST_PERIOD = (
    "recency_rule",
    "btyd_p_no_purchase",
    "btyd_clv",
    "last_period_value",
)
N_DRIVERS = 3
#: Rows kept as the model's input example.
EXAMPLE_ROWS = 5


class Pipeline:
    """Train churn and CLV models on snapshots at several cut-offs and score customers.

    Parameters
    ----------
    cutoffs : sequence of dates
        Training cut-offs; every label window ``[cutoff, cutoff + horizon)`` must end by
        the data end (and by the holdout cut-off, for an honest holdout). The latest one
        early-stops and calibrates the models.
    horizon : str, int or timedelta, default="26W"
        Churn horizon ("26W", "6M", 90 days, ...).
    clv_horizon : str, int, timedelta or None
        CLV horizon; None: the churn horizon.
    holdout : date or None
        Cut-off of the holdout evaluation; its label window is never trained on.
    features : FeatureSpec or None
        Snapshot features (default: every group).
    churn_event : str or None
        Contractual churn: an interaction event type (e.g. "cancellation") in the horizon
        marks churn, instead of no purchase in the horizon.
    churn_model, clv_model, btyd_model : estimators or None
        Unfitted templates (cloned); defaults ``ChurnModel()``, ``CLVModel()``,
        ``BTYDModel()``. The pipeline sets their time settings (horizon, time unit,
        discount rate) from its own.
    discount_rate : float, default=0.0
        Annual discount rate: every CLV label, model and baseline values purchases
        discounted to the cut-off.
    risk_thresholds : (float, float), default=(0.3, 0.6)
        Churn probabilities at which the risk segment turns medium, then high.
    actions : Catalogue or None
        The action catalogue: with it, scores carry the next-best action (PLAN_COLUMNS). A
        fitted pipeline plans with another one through `with_actions`.
    uplift_model : UpliftModel or None
        Template of the learner of the catalogue's learned effects (default ``UpliftModel()``).

    Attributes
    ----------
    feature_columns_ : list of str
    churn_model_, recency_model_, clv_model_ : fitted estimators
    btyd_ : BTYDModel
        Fitted on the latest calibration data (the holdout snapshot, else the latest
        training cut-off); gives P(alive) and expected purchases in the scores.
    value_thresholds_ : (float, float)
        CLV tertiles of the latest calibration population: the value segment boundaries.
    evaluation_ : Evaluation or None
        Every model and baseline on the holdout.
    input_example_ : pandas.DataFrame
        A few snapshot rows with a ``customer_id`` column: the pyfunc model's input example.
    feature_kinds_ : dict
        The kind of each feature column an eligibility rule may read ("number", "text",
        "bool"), from the training frame: rules are checked against it, also when
        re-planning.
    trained_actions_ : Catalogue or None
        The catalogue the pipeline was fitted with; `actions` differs from it after
        `with_actions`.
    rules_ : dict
        Each action's parsed eligibility rule (with actions).
    uplift_ : UpliftModel or None
        Learned effects (with learned actions and campaign history).
    uplift_report_ : pandas.DataFrame or None
        Per learned action: contacts, treated/control retention, Qini, and whether it was
        learned or falls back to its assumed effect.
    plan_ : ActionPlan or None
        The plan at the latest calibration cut-off (the holdout), for the training report.
    """

    def __init__(
        self,
        cutoffs: Sequence[Any],
        horizon: Horizon = "26W",
        *,
        clv_horizon: Horizon | None = None,
        holdout: Any = None,
        features: FeatureSpec | None = None,
        churn_event: str | None = None,
        churn_model: ChurnModel | None = None,
        clv_model: CLVModel | None = None,
        btyd_model: BTYDModel | None = None,
        discount_rate: float = 0.0,
        risk_thresholds: tuple[float, float] = (0.3, 0.6),
        actions: Catalogue | None = None,
        uplift_model: UpliftModel | None = None,
    ) -> None:
        self.cutoffs = cutoffs
        self.horizon = horizon
        self.clv_horizon = clv_horizon
        self.holdout = holdout
        self.features = features
        self.churn_event = churn_event
        self.churn_model = churn_model
        self.clv_model = clv_model
        self.btyd_model = btyd_model
        self.discount_rate = discount_rate
        self.risk_thresholds = risk_thresholds
        self.actions = actions
        self.uplift_model = uplift_model

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, giving pipelines saved before actions existed no action catalogue."""
        defaults = {"actions": None, "uplift_model": None}
        if "churn_model_" in state:
            defaults |= {"uplift_": None, "uplift_report_": None, "rules_": {}, "plan_": None}
            # Fitted before re-planning existed: the catalogue is the trained one, and rules
            # are checked by column name (their kinds when they are evaluated).
            defaults |= {"feature_kinds_": None, "trained_actions_": state.get("actions")}
        self.__dict__.update(defaults | state)

    @classmethod
    def from_config(cls, config: ProjectConfig, tables: Tables) -> Pipeline:
        """The pipeline a project configuration describes, with cut-offs resolved on `tables`."""
        cutoffs, holdout = resolve_cutoffs(config, tables.observed_until, tables.observed_from)
        models, seed = config.models, config.seed
        churn_settings = models.churn.lightgbm.model_dump()
        clv_settings = models.clv.lightgbm.model_dump()
        return cls(
            cutoffs,
            holdout=holdout,
            **_fixed_settings(config),
            actions=config.actions,
            churn_model=ChurnModel(
                calibration=models.churn.calibration, random_state=seed, **churn_settings
            ),
            clv_model=CLVModel(
                kind=models.clv.kind,
                objective=models.clv.objective,
                coverage=config.clv.coverage,
                random_state=seed,
                **clv_settings,
            ),
            btyd_model=BTYDModel(models.btyd.model, penalizer=models.btyd.penalizer),
            uplift_model=None
            if config.actions is None
            else UpliftModel(
                learner=config.actions.uplift.learner,
                min_contacts=config.actions.uplift.min_contacts,
                folds=config.actions.uplift.folds,
                random_state=seed,
            ),
        )

    def settings_unlike(self, config: ProjectConfig) -> list[str]:
        """The config keys of FIXED_SETTINGS whose values differ from this pipeline's.
        A fitted pipeline keeps its own (its models learned with them): scoring with a
        config that changed them does not apply the change. The ``actions`` section is not
        one of them: a fitted pipeline plans with it through `with_actions`."""
        return [
            FIXED_SETTINGS[name]
            for name, value in _fixed_settings(config).items()
            if getattr(self, name) != value
        ]

    # -- fitting -------------------------------------------------------------------------

    def feature_spec(self) -> FeatureSpec:
        """The features the pipeline builds: `features`, with the churn event's own
        features when churn is event-defined (they tell who has churned already)."""
        spec = self.features or FeatureSpec()
        if "btyd" not in spec.groups:
            raise ParameterError("Pipeline needs the 'btyd' feature group in FeatureSpec.groups")
        if self.churn_event is None:
            return spec
        missing = [g for g in ("recency", "interactions") if g not in spec.groups]
        if missing:
            raise ParameterError(
                f"churn_event={self.churn_event!r} needs the feature groups {missing} in "
                "FeatureSpec.groups, to tell the customers who have churned already"
            )
        if self.churn_event in spec.event_types:
            return spec
        return spec.model_copy(update={"event_types": (*spec.event_types, self.churn_event)})

    def _check_unseen(self, holdout: dt.datetime, advice: str) -> None:
        """SnapshotError when a training cut-off's label window (churn or CLV horizon) ends
        after `holdout`: outcomes there would not be unseen."""
        horizons = (self.horizon, self._clv_horizon())
        ends = {as_cutoff(c): max(window_end(c, h) for h in horizons) for c in self.cutoffs}
        late = [c for c, end in ends.items() if end > holdout]
        if late:
            raise SnapshotError(
                f"training cut-offs {[shown(c) for c in late]} have label windows that "
                f"end after the holdout cut-off {shown(holdout)} (the last ends "
                f"{shown(max(ends.values()))}): the holdout would not be unseen; {advice}"
            )

    def _clv_horizon(self) -> Horizon:
        return self.horizon if self.clv_horizon is None else self.clv_horizon

    def _future_value(self, tables: Tables, frame: pd.DataFrame) -> np.ndarray:
        """The CLV label of each row: the frame's own, or that of the CLV horizon."""
        if self.clv_horizon is None or self.clv_horizon == self.horizon:
            return frame["future_value"].to_numpy(dtype=float)
        parts = [
            build_labels(tables, cutoff, self.clv_horizon, discount_rate=self.discount_rate)[
                "future_value"
            ].reindex(rows.index)
            for cutoff, rows in frame.groupby("cutoff", sort=False)
        ]
        return pd.concat(parts).to_numpy(dtype=float)

    def _templates(self, spec: FeatureSpec) -> tuple[ChurnModel, CLVModel, BTYDModel]:
        unit = spec.time_unit
        btyd = clone(self.btyd_model or BTYDModel()).set_params(time_unit=unit)
        clv = clone(self.clv_model or CLVModel()).set_params(
            horizon=_length(self._clv_horizon()),
            time_unit=unit,
            discount_rate=self.discount_rate,
            btyd_model=btyd.model,
            penalizer=btyd.penalizer,
        )
        return clone(self.churn_model or ChurnModel()), clv, btyd

    def fit(self, tables: Tables) -> Pipeline:
        """Build the training frame, fit every model and baseline, evaluate on the holdout."""
        low, high = self.risk_thresholds
        if not 0 < low < high < 1:
            raise ParameterError(
                f"risk_thresholds must satisfy 0 < low < high < 1, got {self.risk_thresholds}"
            )
        spec = self.feature_spec()
        churn_template, clv_template, btyd_template = self._templates(spec)
        holdout = None if self.holdout is None else as_cutoff(self.holdout)
        starts = [as_cutoff(c) for c in self.cutoffs]
        if holdout is not None:
            self._check_unseen(holdout, "use earlier cut-offs")
            if btyd_template.spend is None:
                raise ParameterError(
                    "the holdout's BTYD CLV baseline needs btyd_model with a spend model; to "
                    "leave spend out of the hybrid's features, pass clv_model=CLVModel("
                    "spend=None) instead"
                )
        frame = build_training_frame(
            tables,
            list(self.cutoffs),  # as given: a calendar horizon runs in a tz-aware cut-off's zone
            self.horizon,
            spec,
            churn_event=self.churn_event,
            discount_rate=self.discount_rate,
        )
        self.feature_columns_ = [c for c in frame.columns if c not in (*LABELS, "cutoff")]
        X = frame[["cutoff", *self.feature_columns_]]  # the cut-off splits, never predicts
        # Churn models learn from customers at risk (event churn: not churned already).
        at_risk = frame["churned"].notna().to_numpy()
        churned = frame["churned"][at_risk].astype(bool)
        if churned.nunique() < 2:
            raise ModelFitError(
                f"every training customer at risk has churned={bool(churned.iloc[0])} at the "
                f"cut-offs {[shown(s) for s in starts]}: nothing to learn. Check the "
                "churn definition (horizon, event type) and the cut-offs."
            )
        self.feature_kinds_ = column_kinds(frame[self.feature_columns_])
        self.trained_actions_ = self.actions
        self.rules_ = {} if self.actions is None else self.actions.rules(self._rule_kinds())
        self.churn_model_ = churn_template.fit(X[at_risk], churned)
        self.recency_model_ = RecencyBaseline().fit(X[at_risk], churned)
        self.clv_model_ = clv_template.fit(X, self._future_value(tables, frame))
        if holdout is None:
            latest = frame[frame["cutoff"] == frame["cutoff"].max()]
        else:
            latest = build_training_frame(
                tables,
                [holdout],
                self.horizon,
                spec,
                churn_event=self.churn_event,
                discount_rate=self.discount_rate,
            )
        self.btyd_ = clone(btyd_template).fit(latest)
        clv = self.clv_model_.predict(latest[self.feature_columns_])
        self.evaluation_ = (
            None if holdout is None else self._evaluate(tables, holdout, latest, self.btyd_, clv)
        )
        calibration = latest[["cutoff", *self.feature_columns_]]
        self.value_thresholds_ = tuple(float(q) for q in np.quantile(clv, [1 / 3, 2 / 3]))
        self.uplift_, self.uplift_report_, self.plan_ = None, None, None
        if self.actions is not None:
            calibration = calibration.join(self.contacts(tables, calibration["cutoff"].iloc[0]))
            self._fit_actions(tables, spec, calibration)
        self.input_example_ = calibration.head(EXAMPLE_ROWS).reset_index()
        return self

    def _fit_actions(self, tables: Tables, spec: FeatureSpec, snapshot: pd.DataFrame) -> None:
        """Learn the catalogue's learned effects, check its rules, plan the latest snapshot."""
        catalogue = self.actions
        assert catalogue is not None
        campaigns = {c: a for a, c in reversed(list(catalogue.learned.items()))}
        if campaigns:
            history = campaign_history(
                tables, list(campaigns), self.horizon, spec, churn_event=self.churn_event
            )
            self.uplift_report_ = unlearned_report(
                list(catalogue.learned), "no campaign contacts with a complete outcome window"
            )
            if not history.empty:
                self.uplift_ = clone(self.uplift_model or UpliftModel()).fit(
                    history[self.feature_columns_],
                    history["campaign_id"].map(campaigns),
                    history["treatment"],
                    history["retained"],
                    actions=list(catalogue.learned),
                )
                self.uplift_report_ = self.uplift_.report_
        scores = self._scores(snapshot[self.feature_columns_], snapshot["cutoff"].iloc[0])
        self.plan_ = self._plan(self._planning_frame(snapshot, scores))

    def _rule_kinds(self) -> Mapping[str, Kind] | list[str]:
        """The kind of every column an eligibility rule may name (features, scores, contacts);
        only the names for a pipeline fitted before the kinds were kept."""
        if self.feature_kinds_ is None:
            return [*self.feature_columns_, *self._score_kinds()]
        return {**self.feature_kinds_, **self._score_kinds()}

    def with_actions(self, actions: Catalogue | Mapping[str, Any] | None) -> Pipeline:
        """This fitted pipeline planning with another action catalogue, without refitting.

        Planning settings may all change: budget, capacities, costs, eligibility rules,
        channels, cool-downs, consent, the control group and its seed, the solver, the
        contact events, assumed effects, and actions added or removed. What the models
        learned may not (`cxml.actions.replanning`): an action with a learned effect must be
        one the pipeline learned, from the same campaign, with the same ``uplift``
        settings, and the currency is the trained catalogue's (an empty one takes it). The
        rules and consent columns are checked against the model's columns here, before
        anything is scored.

        Parameters
        ----------
        actions : Catalogue, mapping or None
            The catalogue to plan with (a mapping: as the config's ``actions`` section);
            None: the one the pipeline was trained with.

        Returns
        -------
        Pipeline
            A copy sharing the fitted models and learned effects (this pipeline itself when
            it plans with that catalogue already). Its plans say whether they were
            re-planned (`ActionPlan.replanned`, ``attrs["action_plan"]["replanned"]``).

        Raises
        ------
        CatalogueError
            The catalogue changes a learned effect, the uplift settings or the currency:
            train again.
        RuleError
            A rule is invalid for the model's columns, or a consent column is not one.
        DataValidationError
            A feature column is named like a contact column of a new channel.
        """
        if not hasattr(self, "churn_model_"):
            raise NotFittedError("this Pipeline is not fitted yet; call fit first")
        if isinstance(actions, Mapping):
            actions = Catalogue.model_validate(actions)
        elif not isinstance(actions, Catalogue | None):
            raise ParameterError(
                f"actions must be a Catalogue, a mapping or None, got {type(actions).__name__}"
            )
        trained = self.trained_actions_
        catalogue = trained if actions is None else replanning(actions, trained)
        if catalogue == self.actions:
            return self
        replanned = copy.copy(self)
        replanned.actions = catalogue
        replanned.rules_ = {}
        if catalogue is not None:
            replanned._check_added_columns(self.feature_columns_)
            replanned.rules_ = catalogue.rules(replanned._rule_kinds())
            check_columns(catalogue, pd.Index([*self.feature_columns_, *replanned._score_kinds()]))
        return replanned

    def _score_kinds(self) -> dict[str, Kind]:
        """The kinds of the scores and contact columns an eligibility rule may name."""
        assert self.actions is not None
        kinds: dict[str, Kind] = dict.fromkeys(NUMERIC_SCORES, "number")
        kinds.update(dict.fromkeys(("value_segment", "risk_segment", "churn_drivers"), "text"))
        kinds.update({contact_column(a.channel): "number" for a in self.actions.catalogue})
        return kinds

    def check_inputs(self, tables: Tables) -> None:
        """What can be checked on the data before any training: the churn event occurs in
        the interactions (SnapshotError), and the catalogue's eligibility rules parse and
        name columns that scoring will have (RuleError; kinds are checked in fit)."""
        present = tables.observed_event_types
        if self.churn_event is not None and self.churn_event not in present:
            raise SnapshotError(
                f"the churn event {self.churn_event!r} occurs in no interaction; the event "
                f"types present are {sorted(present)}"
            )
        features, attributes = snapshot_columns(tables, self.feature_spec())
        if self.actions is not None:
            self._check_added_columns(attributes)
            columns = [*features, *attributes, *self._score_kinds()]
            self.actions.rules(columns)
            self._check_contact_history(tables)
            check_columns(self.actions, pd.Index(columns))

    def _check_added_columns(self, columns: Collection[str]) -> None:
        """DataValidationError for a customers column named like a score or contact column
        that the action plan adds (one would silently replace the other)."""
        added = self._score_kinds()
        for name in columns:
            if name in added:
                raise DataValidationError(
                    "customers",
                    name,
                    "the name of a score or contact column the action plan adds",
                    "rename the column in the source, or leave it out",
                )

    def evaluate(self, tables: Tables, as_of: Any) -> Evaluation:
        """Every model and baseline on the customers and outcomes of a later cut-off.

        The label window after `as_of` must lie in the data, and `as_of` must be on or after
        the end of every training label window (SnapshotError otherwise: in-sample figures
        would pass for a holdout); the BTYD baselines are fitted on the snapshot at `as_of`.
        """
        if not hasattr(self, "churn_model_"):
            raise NotFittedError("this Pipeline is not fitted yet; call fit first")
        self._check_unseen(as_cutoff(as_of), "evaluate at a later cut-off")
        frame = build_training_frame(
            tables,
            [as_cutoff(as_of)],
            self.horizon,
            self.feature_spec(),
            churn_event=self.churn_event,
            discount_rate=self.discount_rate,
        )
        btyd = clone(self._templates(self.feature_spec())[2]).fit(frame)
        return self._evaluate(tables, as_of, frame, btyd)

    def _evaluate(
        self,
        tables: Tables,
        holdout: Any,
        frame: pd.DataFrame,
        btyd: BTYDModel,
        clv: np.ndarray | None = None,
    ) -> Evaluation:
        """Every model and baseline on a labelled frame; `btyd` gives the BTYD baselines and
        `clv` the CLV model's predictions for the frame, when already made."""
        X = self._features(frame)
        clv_horizon = self._clv_horizon()
        last = last_period_value(tables, holdout, clv_horizon).reindex(frame.index)
        churn_length, clv_length = _length(self.horizon, holdout), _length(clv_horizon, holdout)
        if clv is None:
            clv = self.clv_model_.predict(X)
        at_risk = frame["churned"].notna().to_numpy()  # event churn: not churned already
        _check_outcomes(frame["churned"][at_risk], holdout)
        at = X[at_risk]
        churn_scores = {
            "churn_model": self.churn_model_.predict_proba(at)[:, 1],
            RECENCY: self.recency_model_.predict_proba(at)[:, 1],
            # Customers without purchases have no BTYD history: count them as churned.
            BTYD_CHURN: btyd.predict_no_purchase(at, churn_length).fillna(1.0).to_numpy(),
        }
        clv_predictions = {
            f"clv_{self.clv_model_.kind}": clv,
            BTYD_CLV: btyd.predict_clv(X, clv_length, discount_rate=self.discount_rate)
            .fillna(0.0)
            .to_numpy(),
            LAST_PERIOD: last.fillna(0.0).to_numpy(),
        }
        buyers = X["frequency"].notna().to_numpy()
        check = BTYDCheck(
            X["frequency"].to_numpy()[buyers],
            frame["future_transactions"].to_numpy()[buyers],
            btyd.predict_purchases(X, churn_length).to_numpy()[buyers],
        )
        return evaluate(
            churned=frame["churned"][at_risk].to_numpy(dtype=float),
            churn_scores=churn_scores,
            value=self._future_value(tables, frame),
            clv_predictions=clv_predictions,
            clv_intervals={f"clv_{self.clv_model_.kind}": self.clv_model_.interval(clv)},
            baselines=(RECENCY, BTYD_CHURN, BTYD_CLV, LAST_PERIOD),
            btyd_check=check,
        )

    # -- scoring -------------------------------------------------------------------------

    def snapshot(self, tables: Tables, as_of: Any) -> pd.DataFrame:
        """The model's input at `as_of`: features of every customer first seen before it or
        in the customers table without a signup date (and, with actions, the days since the
        last contact on each channel)."""
        snapshot = build_snapshot(tables, as_of, self.feature_spec(), undated_customers=True)
        if snapshot.empty:
            raise nobody_seen(as_of)
        snapshot.insert(0, "cutoff", pd.Timestamp(as_cutoff(as_of)))
        if self.actions is not None:
            self._check_added_columns(snapshot.columns)
            snapshot = snapshot.join(self.contacts(tables, as_of))
        return snapshot

    def _check_contact_history(self, tables: Tables) -> None:
        """RuleError when a cool-down has no contact history to go by: every customer would
        count as never contacted, and the cool-down would silently not apply."""
        assert self.actions is not None
        interactions = tables.interactions
        if interactions is not None and "channel" in interactions.collect_schema().names():
            return
        for action in self.actions.catalogue:
            if self.actions.cooldown_days.get(action.channel):
                raise RuleError(
                    action.name,
                    None,
                    None,
                    f"channel {action.channel!r} has a cool-down, but the data hold no "
                    "contact history (an interactions table with a 'channel' column)",
                )

    def contacts(self, tables: Tables, as_of: Any) -> pd.DataFrame:
        """Days since the last contact per channel of the catalogue (NaN: never)."""
        assert self.actions is not None
        self._check_contact_history(tables)
        channels = list(dict.fromkeys(a.channel for a in self.actions.catalogue))
        return days_since_contact(tables, as_of, channels, self.actions.contact_events)

    def score(self, tables: Tables, as_of: Any) -> pd.DataFrame:
        """One row per customer first seen before `as_of`: the columns of SCORE_COLUMNS."""
        return self.score_snapshot(self.snapshot(tables, as_of))

    def score_snapshot(self, snapshot: pd.DataFrame, *, plan: bool = True) -> pd.DataFrame:
        """Scores for a snapshot frame indexed by customer_id (the pyfunc model's input).

        With an action catalogue and `plan`, the PLAN_COLUMNS follow, planned over these
        customers together (``plan=False``: a batch of a larger base, planned afterwards
        with `with_plan`).
        """
        at = snapshot["cutoff"].iloc[0] if "cutoff" in snapshot and len(snapshot) else None
        scores = self._scores(self._features(snapshot), at)
        if self.actions is None or not plan:
            return scores
        return self.with_plan(snapshot, scores)

    def with_plan(self, snapshot: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
        """`scores` (in `snapshot`'s row order) followed by the PLAN_COLUMNS of one plan
        over all of them; ``attrs["action_plan"]`` holds its summary and totals."""
        if self.actions is None:
            raise ParameterError("this pipeline has no action catalogue to plan with")
        if not np.array_equal(scores["customer_id"].to_numpy(), snapshot.index.to_numpy()):
            raise ParameterError("scores must list the snapshot's customers in its row order")
        plan = self._plan(self._planning_frame(snapshot, scores))
        scores = pd.concat([scores.reset_index(drop=True), plan.assignments], axis=1)
        scores.attrs["action_plan"] = plan.to_dict()  # JSON-able: survives concat and Parquet
        return scores

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns of a snapshot or labelled frame, all present."""
        self.check_feature_columns(frame.columns)
        return frame[self.feature_columns_]

    def check_feature_columns(self, columns: Collection[str]) -> None:
        """SnapshotError naming the model's feature columns that `columns` lack."""
        missing = [c for c in self.feature_columns_ if c not in columns]
        if missing:
            raise SnapshotError(
                f"the data lack the model's feature columns {missing}: the model was trained "
                "on tables with more columns or event types"
            )

    def _scores(self, X: pd.DataFrame, at: Any = None) -> pd.DataFrame:
        """The SCORE_COLUMNS for feature rows X at cut-off `at` (None: unknown, the CLV
        horizon's nominal length counts)."""
        churn, names, strengths = self.churn_model_.predict_with_drivers(X, N_DRIVERS)
        clv = self.clv_model_.predict(X)
        interval = self.clv_model_.interval(clv)
        scores = pd.DataFrame(
            {
                "customer_id": X.index.to_numpy(),
                "churn_probability": churn,
                "p_alive": self.btyd_.predict_alive(X).to_numpy(),
                "expected_purchases": self.btyd_.predict_purchases(
                    X, _length(self._clv_horizon(), at)
                ).to_numpy(),
                "clv": clv,
                "clv_lower": interval[:, 0],
                "clv_upper": interval[:, 1],
                "churn_drivers": self._drivers(X, names, strengths),
            }
        )
        gone = self._churned_already(X)
        if gone.any():
            # BTYD knows no cancellations; the CLV model does (its features and training
            # rows include them), so a win-back's value stays.
            scores.loc[gone, ["churn_probability", "p_alive", "expected_purchases"]] = [1, 0, 0]
            reason = f"churned already: {self.churn_event}, no purchase since"
            scores.loc[gone, "churn_drivers"] = reason
        scores["value_segment"] = _levels(scores["clv"], self.value_thresholds_)
        scores["risk_segment"] = _levels(scores["churn_probability"], self.risk_thresholds)
        return scores[list(SCORE_COLUMNS)]

    def _churned_already(self, X: pd.DataFrame) -> np.ndarray:
        """Which customers have churned by the churn event before the cut-off (contractual
        churn; none otherwise): the churn model, trained on customers at risk, does not
        score them; they have churned."""
        since_event = f"days_since_last_{self.churn_event}"
        if self.churn_event is None or since_event not in X.columns:  # older models
            return np.zeros(len(X), dtype=bool)
        frame = nw.from_native(X[[since_event, "days_since_last_purchase"]], eager_only=True)
        gone = churned_by(-nw.col(since_event), -nw.col("days_since_last_purchase"))
        return frame.select(gone.alias("gone"))["gone"].to_numpy()

    def _planning_frame(self, snapshot: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
        """What eligibility rules see: snapshot columns, scores and the contact recency.

        A cool-down needs the contact recency of its channel (`snapshot` adds it): without
        it, a RuleError rather than every customer counted as never contacted.
        """
        assert self.actions is not None
        for action in self.actions.catalogue:
            column = contact_column(action.channel)
            if self.actions.cooldown_days.get(action.channel) and column not in snapshot:
                raise RuleError(
                    action.name,
                    None,
                    None,
                    f"channel {action.channel!r} has a cool-down, but the scoring input has "
                    f"no {column!r} column (the days since the last contact; "
                    "Pipeline.snapshot adds it). A registered model passes it on only for "
                    "the channels of the catalogue it was trained with: train again to plan "
                    "a cool-down on a new channel",
                )
        frame = snapshot.drop(columns="cutoff", errors="ignore").copy()
        for column in scores.columns.drop("customer_id"):
            frame[column] = scores[column].to_numpy()
        return frame

    def _plan(self, frame: pd.DataFrame) -> ActionPlan:
        """The action plan for a planning frame (one row per customer)."""
        assert self.actions is not None
        rules: dict[str, Rule | None] = self.rules_
        values = action_values(frame, self.actions, rules, self.uplift_, self.feature_columns_)
        plan = plan_actions(values, frame.index, self.actions, context=frame)
        return dataclasses.replace(plan, replanned=self.actions != self.trained_actions_)

    def _drivers(self, X: pd.DataFrame, names: pd.DataFrame, strengths: pd.DataFrame) -> np.ndarray:
        """The features that push each customer's churn risk up most, as readable text.

        Up to three "feature = value" items, strongest first, from the churn model's path
        attributions (`names`, `strengths`: its top drivers); features that lower the risk
        are not listed.
        """
        features = names[1].cat.categories
        text = np.full(len(X), "", dtype=object)
        for rank in names.columns:
            # Strongest first: a row that rises at this rank rose at every earlier one, so
            # its text so far is not empty and takes a separator.
            separator = "" if rank == names.columns[0] else "; "
            rows = np.flatnonzero(strengths[rank].to_numpy() > 0)
            codes = names[rank].cat.codes.to_numpy()[rows]
            order = np.argsort(codes, kind="stable")  # rows grouped by feature, in order
            counts = np.bincount(codes, minlength=len(features))
            ends = np.cumsum(counts)
            for code in np.flatnonzero(counts):
                hit = rows[order[ends[code] - counts[code] : ends[code]]]
                feature = features[code]
                values = _formatted(X[feature].to_numpy()[hit])
                text[hit] = text[hit] + f"{separator}{feature.replace('_', ' ')} = " + values
        return text


def _levels(values: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    """ "low" / "medium" / "high" by two thresholds (a value at a threshold goes up)."""
    return np.asarray(LEVELS, dtype=object)[np.searchsorted(thresholds, values, side="right")]


#: Pipeline parameters a config sets that a fitted pipeline keeps -> their config keys.
#: The action catalogue is not one: it is re-planned (`Pipeline.with_actions`), and what
#: its models learned (learned effects, uplift settings) is checked there.
FIXED_SETTINGS = {
    "horizon": "churn.horizon",
    "clv_horizon": "clv.horizon",
    "features": "features",
    "churn_event": "churn.definition/event_type",
    "discount_rate": "clv.discount_rate",
}


def _fixed_settings(config: ProjectConfig) -> dict[str, Any]:
    """The values of the FIXED_SETTINGS in `config`."""
    event = config.churn.definition == "event"
    return {
        "horizon": config.churn.horizon,
        "clv_horizon": config.clv.horizon,
        "features": config.features,
        "churn_event": config.churn.event_type if event else None,
        "discount_rate": config.clv.discount_rate,
    }


def _length(horizon: Horizon, at: Any = None) -> pd.Timedelta | pd.DateOffset:
    """A horizon as the BTYD models take it: the exact length of its window from cut-off
    `at` (calendar months differ), else its nominal length; a bare number is days, as in
    the labels (a BTYD model would read it in its own time unit)."""
    if at is None:
        return parse_horizon(horizon)
    return pd.Timedelta(window_end(at, horizon) - as_cutoff(at))


def _check_outcomes(churned: pd.Series, holdout: Any) -> None:
    """SnapshotError when the customers at risk at `holdout` all churned or all stayed: the
    ranking figures (ROC AUC, Gini, lift) would be undefined (NaN)."""
    if churned.empty:
        raise SnapshotError(
            f"no customer is at risk at the evaluation cut-off {shown(as_cutoff(holdout))}: "
            "every one has churned already"
        )
    if churned.nunique() < 2:
        what = "churned" if churned.astype(bool).all() else "stayed"
        raise SnapshotError(
            f"at the evaluation cut-off {shown(as_cutoff(holdout))} all {len(churned)} "
            f"customers at risk {what}: ROC AUC and the other ranking figures are undefined; "
            "check that the transactions run to the end of the data (cxml validate warns "
            "when they stop early), or evaluate at an earlier cut-off"
        )


def _formatted(values: np.ndarray) -> np.ndarray:
    """Feature values as short text (object array): 3 significant digits, "none" if missing."""
    # Each distinct value is formatted once; floats are told apart by their bits (0.0 from
    # -0.0), and the missing values factorize leaves out (code -1) read "none".
    floats = values.dtype.kind == "f"
    codes, distinct = pd.factorize(values.view(f"i{values.itemsize}") if floats else values)
    if floats:
        distinct = distinct.view(values.dtype)
        texts = [f"{v:.3g}" if v == v else "none" for v in distinct.tolist()]
    else:
        texts = ["none" if pd.isna(v) else str(v) for v in np.asarray(distinct).tolist()]
    return np.array([*texts, "none"], dtype=object)[codes]
