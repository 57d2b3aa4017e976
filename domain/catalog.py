"""Categories and products.

Three aggregates keep the catalog's rules without any cross-stream locking:

* `Category` owns its name and the set of products filed under it, so deleting
  a category and creating a product in it write to the same stream and cannot
  both succeed against a stale view.
* `CategoryName` is a claim on a normalised name (one stream per name), which
  makes "category names are unique" a matter of optimistic concurrency.
* `Product` owns its name, price and category.

Longer than our usual module: the three aggregates' rules refer to each other
(a product's category, a category's name claim), and read best side by side.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain.errors import Conflict, InvalidInput, NotFound
from domain.messages import Command, DomainEvent, EntityId, Name, Yen

# Commands ------------------------------------------------------------------


class CreateCategory(Command):
    kind: Literal["CreateCategory"] = "CreateCategory"
    category_id: EntityId
    name: Name


class RenameCategory(Command):
    kind: Literal["RenameCategory"] = "RenameCategory"
    category_id: EntityId
    name: Name


class DeleteCategory(Command):
    kind: Literal["DeleteCategory"] = "DeleteCategory"
    category_id: EntityId


class CreateProduct(Command):
    kind: Literal["CreateProduct"] = "CreateProduct"
    product_id: EntityId
    name: Name
    price: Yen
    category_id: EntityId


class UpdateProduct(Command):
    """Change any of a product's name, price and category; unset fields stay."""

    kind: Literal["UpdateProduct"] = "UpdateProduct"
    product_id: EntityId
    name: Name | None = None
    price: Yen | None = None
    category_id: EntityId | None = None


class DeleteProduct(Command):
    kind: Literal["DeleteProduct"] = "DeleteProduct"
    product_id: EntityId


# Commands one aggregate gives another inside a single decision.


class AttachProduct(Command):
    category_id: str
    product_id: str


class DetachProduct(Command):
    category_id: str
    product_id: str


class ClaimName(Command):
    name: str
    category_id: str


class ReleaseName(Command):
    name: str
    category_id: str


# Events --------------------------------------------------------------------


class CategoryCreated(DomainEvent):
    category_id: str
    name: str


class CategoryRenamed(DomainEvent):
    category_id: str
    name: str


class CategoryDeleted(DomainEvent):
    category_id: str


class ProductAddedToCategory(DomainEvent):
    category_id: str
    product_id: str


class ProductRemovedFromCategory(DomainEvent):
    category_id: str
    product_id: str


class CategoryNameClaimed(DomainEvent):
    name: str
    category_id: str


class CategoryNameReleased(DomainEvent):
    name: str
    category_id: str


class ProductCreated(DomainEvent):
    product_id: str
    name: str
    price: int
    category_id: str


class ProductRenamed(DomainEvent):
    product_id: str
    name: str


class ProductPriceChanged(DomainEvent):
    product_id: str
    price: int


class ProductMoved(DomainEvent):
    product_id: str
    from_category_id: str
    to_category_id: str


class ProductDeleted(DomainEvent):
    product_id: str
    category_id: str


CATALOG_EVENTS: tuple[type[DomainEvent], ...] = (
    CategoryCreated,
    CategoryRenamed,
    CategoryDeleted,
    ProductAddedToCategory,
    ProductRemovedFromCategory,
    CategoryNameClaimed,
    CategoryNameReleased,
    ProductCreated,
    ProductRenamed,
    ProductPriceChanged,
    ProductMoved,
    ProductDeleted,
)


# Aggregates ----------------------------------------------------------------


class _State(BaseModel):
    model_config = ConfigDict(frozen=True)


class CategoryState(_State):
    created: bool = False
    deleted: bool = False
    name: str = ""
    product_ids: frozenset[str] = frozenset()

    @property
    def exists(self) -> bool:
        return self.created and not self.deleted


class Category:
    """A category: its name and the products filed under it."""

    @staticmethod
    def stream_id(category_id: str) -> str:
        return f"category-{category_id}"

    @staticmethod
    def initial() -> CategoryState:
        return CategoryState()

    @staticmethod
    def evolve(state: CategoryState, event: DomainEvent) -> CategoryState:
        match event:
            case CategoryCreated(name=name):
                return state.model_copy(update={"created": True, "name": name})
            case CategoryRenamed(name=name):
                return state.model_copy(update={"name": name})
            case CategoryDeleted():
                return state.model_copy(update={"deleted": True})
            case ProductAddedToCategory(product_id=product_id):
                return state.model_copy(update={"product_ids": state.product_ids | {product_id}})
            case ProductRemovedFromCategory(product_id=product_id):
                return state.model_copy(update={"product_ids": state.product_ids - {product_id}})
        return state

    @staticmethod
    def decide(
        state: CategoryState,
        command: CreateCategory | RenameCategory | DeleteCategory | AttachProduct | DetachProduct,
    ) -> list[DomainEvent]:
        match command:
            case CreateCategory(category_id=category_id, name=name):
                if state.created:
                    raise Conflict(f"category {category_id} already exists", field="id")
                return [CategoryCreated(category_id=category_id, name=name)]
            case RenameCategory(category_id=category_id, name=name):
                _require_category(state, category_id, field="id")
                if name == state.name:
                    return []
                return [CategoryRenamed(category_id=category_id, name=name)]
            case DeleteCategory(category_id=category_id):
                _require_category(state, category_id, field="id")
                if state.product_ids:
                    raise Conflict(
                        f"category {category_id} still holds {len(state.product_ids)} product(s)",
                        field="id",
                    )
                return [CategoryDeleted(category_id=category_id)]
            case AttachProduct(category_id=category_id, product_id=product_id):
                _require_category(state, category_id, field="categoryId")
                return [ProductAddedToCategory(category_id=category_id, product_id=product_id)]
            case DetachProduct(category_id=category_id, product_id=product_id):
                if product_id not in state.product_ids:
                    return []
                return [ProductRemovedFromCategory(category_id=category_id, product_id=product_id)]
        raise TypeError(f"Category cannot decide {type(command).__name__}")


def _require_category(state: CategoryState, category_id: str, *, field: str) -> None:
    if not state.exists:
        raise NotFound(f"category {category_id} does not exist", field=field)


class CategoryNameState(_State):
    holder: str | None = None


class CategoryName:
    """A claim on one category name, so that no two categories share it.

    Names compare after trimming and case folding: "Books" and " books " clash.
    """

    @staticmethod
    def key(name: str) -> str:
        return " ".join(name.split()).casefold()

    @classmethod
    def stream_id(cls, name: str) -> str:
        return f"category-name-{cls.key(name)}"

    @staticmethod
    def initial() -> CategoryNameState:
        return CategoryNameState()

    @staticmethod
    def evolve(state: CategoryNameState, event: DomainEvent) -> CategoryNameState:
        match event:
            case CategoryNameClaimed(category_id=category_id):
                return CategoryNameState(holder=category_id)
            case CategoryNameReleased():
                return CategoryNameState(holder=None)
        return state

    @staticmethod
    def decide(state: CategoryNameState, command: ClaimName | ReleaseName) -> list[DomainEvent]:
        match command:
            case ClaimName(name=name, category_id=category_id):
                if state.holder == category_id:
                    return []
                if state.holder is not None:
                    raise Conflict(f"a category named {name!r} already exists", field="name")
                return [CategoryNameClaimed(name=name, category_id=category_id)]
            case ReleaseName(name=name, category_id=category_id):
                if state.holder != category_id:
                    return []
                return [CategoryNameReleased(name=name, category_id=category_id)]
        raise TypeError(f"CategoryName cannot decide {type(command).__name__}")


class ProductState(_State):
    created: bool = False
    deleted: bool = False
    name: str = ""
    price: int = 0
    category_id: str = ""

    @property
    def exists(self) -> bool:
        return self.created and not self.deleted


class Product:
    """A product for sale: name, price in yen, and the category it is filed under."""

    @staticmethod
    def stream_id(product_id: str) -> str:
        return f"product-{product_id}"

    @staticmethod
    def initial() -> ProductState:
        return ProductState()

    @staticmethod
    def evolve(state: ProductState, event: DomainEvent) -> ProductState:
        match event:
            case ProductCreated(name=name, price=price, category_id=category_id):
                return ProductState(created=True, name=name, price=price, category_id=category_id)
            case ProductRenamed(name=name):
                return state.model_copy(update={"name": name})
            case ProductPriceChanged(price=price):
                return state.model_copy(update={"price": price})
            case ProductMoved(to_category_id=category_id):
                return state.model_copy(update={"category_id": category_id})
            case ProductDeleted():
                return state.model_copy(update={"deleted": True})
        return state

    @staticmethod
    def decide(
        state: ProductState, command: CreateProduct | UpdateProduct | DeleteProduct
    ) -> list[DomainEvent]:
        match command:
            case CreateProduct(product_id=pid, name=name, price=price, category_id=category_id):
                if state.created:
                    raise Conflict(f"product {pid} already exists", field="id")
                return [
                    ProductCreated(product_id=pid, name=name, price=price, category_id=category_id)
                ]
            case UpdateProduct(product_id=pid):
                require_product(state, pid, field="id")
                return _product_changes(state, command)
            case DeleteProduct(product_id=pid):
                require_product(state, pid, field="id")
                return [ProductDeleted(product_id=pid, category_id=state.category_id)]
        raise TypeError(f"Product cannot decide {type(command).__name__}")


def require_product(state: ProductState, product_id: str, *, field: str) -> None:
    """Refuse a command about a product that was never created or was deleted."""
    if not state.exists:
        raise NotFound(f"product {product_id} does not exist", field=field)


def _product_changes(state: ProductState, command: UpdateProduct) -> list[DomainEvent]:
    if command.name is None and command.price is None and command.category_id is None:
        raise InvalidInput("nothing to update: give a name, a price or a categoryId", field="input")
    events: list[DomainEvent] = []
    pid = command.product_id
    if command.name is not None and command.name != state.name:
        events.append(ProductRenamed(product_id=pid, name=command.name))
    if command.price is not None and command.price != state.price:
        events.append(ProductPriceChanged(product_id=pid, price=command.price))
    if command.category_id is not None and command.category_id != state.category_id:
        events.append(
            ProductMoved(
                product_id=pid,
                from_category_id=state.category_id,
                to_category_id=command.category_id,
            )
        )
    return events
